package menubot

import (
	"bytes"
	_ "embed"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"regexp"
	"unicode/utf8"
)

//go:embed catalog.json
var defaultCatalog []byte

// ErrCatalog matches every error about a catalog's content.
var ErrCatalog = errors.New("bot: invalid catalog")

// Catalog lists the categories and models users pick from, with each
// model's parameters. It is read-only once loaded.
type Catalog struct {
	Categories []Category `json:"categories"`
}

// Category is a group of models ("image", "video"...).
type Category struct {
	ID     string  `json:"id"`
	Title  string  `json:"title"`
	Models []Model `json:"models"`
}

// Model is one generator with the parameters it asks for, in order.
type Model struct {
	ID     string  `json:"id"`
	Title  string  `json:"title"`
	Params []Param `json:"params,omitempty"`
}

// Param is one parameter, picked with buttons.
type Param struct {
	ID      string   `json:"id"`
	Title   string   `json:"title"`
	Options []Option `json:"options"`
}

// Option is one value of a parameter.
type Option struct {
	ID    string `json:"id"`
	Title string `json:"title"`
}

// Limits of a catalog, so every keyboard fits Telegram's limits and every
// callback data its 64 bytes.
const (
	maxTitle      = 40
	maxCategories = 12
	maxModels     = 12
	maxParams     = 6
	maxOptions    = 12
)

var idRe = regexp.MustCompile(`^[a-z0-9][a-z0-9_.-]{0,15}$`)

// DefaultCatalog returns the catalog embedded in the binary.
func DefaultCatalog() *Catalog {
	c, err := ParseCatalog(defaultCatalog)
	if err != nil {
		panic("bot: embedded catalog: " + err.Error()) // a build defect, caught by the tests
	}
	return c
}

// LoadCatalog reads and validates a catalog file (CATALOG_FILE). Its
// errors name the variable, the file and the offending field, e.g.
// `CATALOG_FILE: menu.json: categories[0].models[1].id: "Flux!" is not a valid id`.
func LoadCatalog(path string) (*Catalog, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("CATALOG_FILE: %w", err)
	}
	c, err := ParseCatalog(data)
	if err != nil {
		return nil, fmt.Errorf("CATALOG_FILE: %s: %w", path, err)
	}
	return c, nil
}

// ParseCatalog decodes and validates a catalog in JSON. Unknown fields are
// refused so that a misspelt key is not silently ignored.
func ParseCatalog(data []byte) (*Catalog, error) {
	dec := json.NewDecoder(bytes.NewReader(data))
	dec.DisallowUnknownFields()
	var c Catalog
	if err := dec.Decode(&c); err != nil {
		return nil, fmt.Errorf("%w: %v", ErrCatalog, err)
	}
	if _, err := dec.Token(); err != io.EOF {
		return nil, fmt.Errorf("%w: trailing data after the catalog object", ErrCatalog)
	}
	if err := c.Validate(); err != nil {
		return nil, err
	}
	return &c, nil
}

func bad(path, format string, args ...any) error {
	return fmt.Errorf("%w: %s: %s", ErrCatalog, path, fmt.Sprintf(format, args...))
}

func checkItem(path, id, title string, seen map[string]bool) error {
	if !idRe.MatchString(id) {
		return bad(path+".id", "%q is not a valid id (1-16 of a-z, 0-9, _, . and -, starting with a letter or digit)", id)
	}
	if seen[id] {
		return bad(path+".id", "%q is used twice", id)
	}
	seen[id] = true
	if n := utf8.RuneCountInString(title); n == 0 || n > maxTitle {
		return bad(path+".title", "must be 1-%d characters, got %d", maxTitle, n)
	}
	return nil
}

// Validate checks ids, titles, uniqueness and sizes; its errors name the
// field (`categories[0].models[1].params[0].options`).
func (c *Catalog) Validate() error {
	if n := len(c.Categories); n == 0 || n > maxCategories {
		return bad("categories", "must hold 1-%d categories, got %d", maxCategories, n)
	}
	cats := map[string]bool{}
	for i, cat := range c.Categories {
		cp := fmt.Sprintf("categories[%d]", i)
		if err := checkItem(cp, cat.ID, cat.Title, cats); err != nil {
			return err
		}
		if n := len(cat.Models); n == 0 || n > maxModels {
			return bad(cp+".models", "must hold 1-%d models, got %d", maxModels, n)
		}
		models := map[string]bool{}
		for j, m := range cat.Models {
			mp := fmt.Sprintf("%s.models[%d]", cp, j)
			if err := checkItem(mp, m.ID, m.Title, models); err != nil {
				return err
			}
			if len(m.Params) > maxParams {
				return bad(mp+".params", "must hold at most %d parameters, got %d", maxParams, len(m.Params))
			}
			params := map[string]bool{stepPrompt: true} // "prompt" names the prompt step
			for k, p := range m.Params {
				pp := fmt.Sprintf("%s.params[%d]", mp, k)
				if p.ID == stepPrompt {
					return bad(pp+".id", "%q is reserved", p.ID)
				}
				if err := checkItem(pp, p.ID, p.Title, params); err != nil {
					return err
				}
				if n := len(p.Options); n == 0 || n > maxOptions {
					return bad(pp+".options", "must hold 1-%d options, got %d", maxOptions, n)
				}
				opts := map[string]bool{}
				for l, o := range p.Options {
					if err := checkItem(fmt.Sprintf("%s.options[%d]", pp, l), o.ID, o.Title, opts); err != nil {
						return err
					}
				}
			}
		}
	}
	return nil
}

// Category returns the category id.
func (c *Catalog) Category(id string) (Category, bool) {
	for _, cat := range c.Categories {
		if cat.ID == id {
			return cat, true
		}
	}
	return Category{}, false
}

// Model returns model id of category cat.
func (c *Catalog) Model(cat, id string) (Model, bool) {
	ct, ok := c.Category(cat)
	if !ok {
		return Model{}, false
	}
	for _, m := range ct.Models {
		if m.ID == id {
			return m, true
		}
	}
	return Model{}, false
}

// Param returns the model's parameter id.
func (m Model) Param(id string) (Param, bool) {
	for _, p := range m.Params {
		if p.ID == id {
			return p, true
		}
	}
	return Param{}, false
}

// Option returns the parameter's option id.
func (p Param) Option(id string) (Option, bool) {
	for _, o := range p.Options {
		if o.ID == id {
			return o, true
		}
	}
	return Option{}, false
}

// steps returns the model's input steps in order: the prompt, then each
// parameter.
func (m Model) steps() []string {
	s := []string{stepPrompt}
	for _, p := range m.Params {
		s = append(s, p.ID)
	}
	return s
}
