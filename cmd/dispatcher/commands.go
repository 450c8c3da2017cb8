package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"strings"
	"text/tabwriter"

	"github.com/dispatcher-bot/dispatcher/internal/config"
	"github.com/dispatcher-bot/dispatcher/internal/redisx"
)

// command is one subcommand of dispatcher: what `dispatcher --help` lists,
// what `dispatcher NAME --help` prints, and how it runs.
type command struct {
	name    string
	summary string // one line in the list of commands
	usage   string // synopsis lines, each after "dispatcher "
	about   string // a paragraph after the synopsis; may be empty
	// config: the command reads the configuration (environment, then the
	// flags bound by setup, then Validate) before it runs.
	config bool
	// setup registers the command's own flags on fs, bound to cfg where
	// they are settings, and returns what runs the command once fs has
	// parsed the command line.
	setup func(fs *flag.FlagSet, cfg *config.Config) func(ctx context.Context, c *call) error
}

// call is one run of a command.
type call struct {
	cfg    config.Config // the configuration, when command.config
	args   []string      // the positional arguments
	stdout io.Writer
	stderr io.Writer
}

// commands are the subcommands by name; each file of this package that
// defines one registers it in its init. commandOrder is the order of the
// top-level help.
var (
	commands     = map[string]*command{}
	commandOrder = []string{"serve", "status", "trace", "dlq", "smoke", "webhook", "version"}
)

func register(c *command) { commands[c.name] = c }

// Run runs one command line: the command (serve when the first argument is
// a flag or there is none), then its flags and arguments.
func Run(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	name := "serve"
	if len(args) > 0 {
		switch {
		case isHelpArg(args[0]) || args[0] == "help":
			if len(args) > 1 && args[0] == "help" {
				if c, ok := commands[args[1]]; ok {
					return c.help(stdout)
				}
				return usageErr("", "help: unknown command %q", args[1])
			}
			return writeTopHelp(stdout)
		case !strings.HasPrefix(args[0], "-"):
			name, args = args[0], args[1:]
		}
	}
	c, ok := commands[name]
	if !ok {
		return usageErr("", "unknown command %q", name)
	}
	return c.exec(ctx, args, stdout, stderr)
}

// exec runs the command with its arguments. Help is answered before the
// configuration is read, so it works with none.
func (c *command) exec(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	if wantsHelp(args) {
		return c.help(stdout)
	}
	cl := &call{stdout: stdout, stderr: stderr, cfg: config.Default()}
	if c.config {
		cfg, err := config.FromEnv(os.LookupEnv)
		if err != nil {
			return err
		}
		cl.cfg = cfg
	}
	fs := quietFlagSet(c.name)
	run := c.setup(fs, &cl.cfg)
	args, err := moveFlagsFirst(fs, args)
	if err == nil {
		err = fs.Parse(args)
	}
	if err != nil {
		return usageErr(c.name, "%s: %v", c.name, err)
	}
	cl.args = fs.Args()
	if !c.config {
		return run(ctx, cl)
	}
	if err := cl.cfg.Validate(); err != nil {
		return err
	}
	err = run(ctx, cl)
	if perr := redisx.PermanentError(&cl.cfg, err); perr != nil {
		// a wrong password, an ACL denial...: configuration, not an outage
		return perr
	}
	return err
}

// quietFlagSet returns a flag set that prints nothing: errors are returned
// and reported as one line, help is written by command.help.
func quietFlagSet(name string) *flag.FlagSet {
	fs := flag.NewFlagSet(name, flag.ContinueOnError)
	fs.SetOutput(io.Discard)
	fs.Usage = func() {}
	return fs
}

// help writes the command's synopsis, about text and own flags with their
// defaults.
func (c *command) help(w io.Writer) error {
	var b strings.Builder
	for i, u := range strings.Split(c.usage, "\n") {
		if i == 0 {
			b.WriteString("usage: dispatcher " + u + "\n")
		} else {
			b.WriteString("       dispatcher " + u + "\n")
		}
	}
	b.WriteString("\n" + strings.ToUpper(c.summary[:1]) + c.summary[1:] + ".\n")
	if c.about != "" {
		b.WriteString("\n" + strings.TrimSpace(c.about) + "\n")
	}
	cfg := config.Default()
	fs := quietFlagSet(c.name)
	c.setup(fs, &cfg)
	if hasFlags(fs) {
		b.WriteString("\nflags:\n")
		writeFlags(&b, fs)
	}
	_, err := io.WriteString(w, b.String())
	return err
}

func hasFlags(fs *flag.FlagSet) bool {
	n := 0
	fs.VisitAll(func(*flag.Flag) { n++ })
	return n > 0
}

// writeFlags writes one line per flag: name, placeholder, usage, default.
func writeFlags(w io.Writer, fs *flag.FlagSet) {
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	fs.VisitAll(func(f *flag.Flag) {
		placeholder, usage := flag.UnquoteUsage(f)
		p, setting := f.Value.(interface{ Placeholder() string })
		if setting {
			placeholder = p.Placeholder()
		}
		if isBool(f) {
			placeholder = ""
		}
		def := f.DefValue
		if d, ok := f.Value.(interface{ HelpDefault(string) string }); ok {
			def = d.HelpDefault(def)
		}
		if def != "" && def != "false" {
			if setting && strings.HasSuffix(usage, ")") { // "... (LEASE_TTL)"
				usage = strings.TrimSuffix(usage, ")") + ", default " + def + ")"
			} else {
				usage += " (default " + def + ")"
			}
		}
		switch placeholder {
		case "int", "int64", "uint", "uint64":
			placeholder = "N"
		case "string":
			placeholder = "TEXT"
		}
		name := "-" + f.Name
		if placeholder != "" {
			name += " " + strings.ToUpper(placeholder)
		}
		fmt.Fprintf(tw, "  %s\t%s\n", name, usage)
	})
	_ = tw.Flush()
}

// writeTopHelp lists the commands, one line each.
func writeTopHelp(w io.Writer) error {
	var b strings.Builder
	b.WriteString("dispatcher runs one Telegram bot on many instances at once (README.md).\n\n")
	b.WriteString("usage: dispatcher [command] [flags] [arguments]\n\ncommands:\n")
	tw := tabwriter.NewWriter(&b, 0, 0, 2, ' ', 0)
	for _, name := range commandOrder {
		c := commands[name]
		summary := c.summary
		if name == "serve" {
			summary += " (the default command)"
		}
		fmt.Fprintf(tw, "  %s\t%s\n", name, summary)
	}
	_ = tw.Flush()
	b.WriteString("\nRun 'dispatcher COMMAND --help' for a command's flags and their defaults.\n")
	b.WriteString("Settings come from the environment (docs/configuration.md); serve takes each as a flag too.\n")
	_, err := io.WriteString(w, b.String())
	return err
}

// isHelpArg reports a request for help.
func isHelpArg(a string) bool {
	switch a {
	case "-h", "-help", "--help", "--h":
		return true
	}
	return false
}

// wantsHelp reports whether a help flag comes before any "--".
func wantsHelp(args []string) bool {
	for _, a := range args {
		if a == "--" {
			return false
		}
		if isHelpArg(a) {
			return true
		}
	}
	return false
}

func isBool(f *flag.Flag) bool {
	b, ok := f.Value.(interface{ IsBoolFlag() bool })
	return ok && b.IsBoolFlag()
}

// moveFlagsFirst lets flags follow positional arguments (`trace CID
// --json`), as operators type them; the flag package stops at the first
// positional argument otherwise. A flag's value is kept with it: the value
// is the next argument unless the flag is boolean in fs or is written
// -name=value; a flag that needs a value and ends the line is an error.
func moveFlagsFirst(fs *flag.FlagSet, args []string) ([]string, error) {
	var flags, pos []string
	for i := 0; i < len(args); i++ {
		a := args[i]
		if a == "--" {
			pos = append(pos, args[i+1:]...)
			break
		}
		if len(a) > 1 && a[0] == '-' {
			flags = append(flags, a)
			name := strings.TrimLeft(a, "-")
			if strings.Contains(name, "=") {
				continue
			}
			if f := fs.Lookup(name); f == nil || !isBool(f) {
				if i+1 == len(args) {
					if f == nil {
						return nil, fmt.Errorf("flag provided but not defined: -%s", name)
					}
					return nil, fmt.Errorf("flag needs an argument: -%s", name)
				}
				flags = append(flags, args[i+1])
				i++
			}
			continue
		}
		pos = append(pos, a)
	}
	if len(pos) > 0 {
		flags = append(flags, "--")
	}
	return append(flags, pos...), nil
}

// usageError is a bad command line: exit 2, with a hint to the help.
type usageError struct {
	msg string
	cmd string // the command whose help the hint names; "" for the top level
}

func (e *usageError) Error() string { return e.msg }

// hint is the line printed after the error.
func (e *usageError) hint() string {
	if e.cmd == "" {
		return "run 'dispatcher --help' for the commands"
	}
	return "run 'dispatcher " + e.cmd + " --help' for its flags and arguments"
}

// usageErr returns a usage error of command cmd ("" for the top level).
func usageErr(cmd, format string, args ...any) error {
	return &usageError{msg: fmt.Sprintf(format, args...), cmd: cmd}
}

// asUsage reports a usage error.
func asUsage(err error) (*usageError, bool) {
	var ue *usageError
	ok := errors.As(err, &ue)
	return ue, ok
}
