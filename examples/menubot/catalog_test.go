package menubot_test

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/dispatcher-bot/dispatcher/examples/menubot"
)

func TestDefaultCatalogIsValid(t *testing.T) {
	c := menubot.DefaultCatalog()
	require.NoError(t, c.Validate())
	var ids []string
	for _, cat := range c.Categories {
		ids = append(ids, cat.ID)
	}
	require.Equal(t, []string{"image", "video", "text"}, ids)
	m, ok := c.Model("image", "flux")
	require.True(t, ok)
	require.Len(t, m.Params, 2)
	_, ok = c.Model("video", "flux")
	require.False(t, ok)
}

func TestCatalogErrorsNameTheField(t *testing.T) {
	cases := map[string]string{
		`{}`: "categories: must hold 1-12 categories, got 0",
		`{"categories":[{"id":"Image!","title":"x","models":[{"id":"m","title":"M"}]}]}`:                                                                      `categories[0].id: "Image!" is not a valid id`,
		`{"categories":[{"id":"a","title":"x","models":[]}]}`:                                                                                                 "categories[0].models: must hold 1-12 models, got 0",
		`{"categories":[{"id":"a","title":"","models":[{"id":"m","title":"M"}]}]}`:                                                                            "categories[0].title: must be 1-40 characters, got 0",
		`{"categories":[{"id":"a","title":"A","models":[{"id":"m","title":"M"},{"id":"m","title":"N"}]}]}`:                                                    `categories[0].models[1].id: "m" is used twice`,
		`{"categories":[{"id":"a","title":"A","models":[{"id":"m","title":"M","params":[{"id":"prompt","title":"P","options":[{"id":"x","title":"X"}]}]}]}]}`: `categories[0].models[0].params[0].id: "prompt" is reserved`,
		`{"categories":[{"id":"a","title":"A","models":[{"id":"m","title":"M","params":[{"id":"p","title":"P","options":[]}]}]}]}`:                            "categories[0].models[0].params[0].options: must hold 1-12 options, got 0",
		`{"categories":[{"id":"a","title":"A","models":[{"id":"m","title":"M","params":[{"id":"p","title":"P","options":[{"id":"a:b","title":"X"}]}]}]}]}`:    `categories[0].models[0].params[0].options[0].id: "a:b" is not a valid id`,
		`{"categories":[{"id":"a","title":"A","modles":[]}]}`:                                                                                                 `unknown field "modles"`,
		`{"categories":[]} {}`: "trailing data",
		`not json`:             "bot: invalid catalog",
	}
	for in, want := range cases {
		_, err := menubot.ParseCatalog([]byte(in))
		require.ErrorIs(t, err, menubot.ErrCatalog, in)
		require.Contains(t, err.Error(), want, in)
	}
}

func TestLoadCatalogFile(t *testing.T) {
	dir := t.TempDir()
	good := filepath.Join(dir, "menu.json")
	require.NoError(t, os.WriteFile(good, []byte(`{"categories":[{"id":"audio","title":"Audio",
		"models":[{"id":"tts","title":"TTS","params":[{"id":"voice","title":"Voice","options":[{"id":"alto","title":"Alto"}]}]}]}]}`), 0o600))
	c, err := menubot.LoadCatalog(good)
	require.NoError(t, err)
	require.Equal(t, "audio", c.Categories[0].ID)

	bad := filepath.Join(dir, "bad.json")
	require.NoError(t, os.WriteFile(bad, []byte(`{"categories":[]}`), 0o600))
	_, err = menubot.LoadCatalog(bad)
	require.ErrorIs(t, err, menubot.ErrCatalog)
	require.True(t, strings.HasPrefix(err.Error(), "CATALOG_FILE: "+bad+": "), err.Error())

	_, err = menubot.LoadCatalog(filepath.Join(dir, "missing.json"))
	require.Error(t, err)
	require.True(t, strings.HasPrefix(err.Error(), "CATALOG_FILE: "), err.Error())
}

func TestCustomCatalogDrivesTheMenu(t *testing.T) {
	c, err := menubot.ParseCatalog([]byte(`{"categories":[{"id":"audio","title":"Audio",
		"models":[{"id":"tts","title":"TTS"}]}]}`))
	require.NoError(t, err)
	h := newHarness(t, func(cfg *botConfig, _ *harness) { cfg.Catalog = c })
	_, err = h.send(userID, "/start")
	require.NoError(t, err)
	require.Equal(t, []string{"cat:audio"}, h.panel(userID).order)
	h.press(userID, "cat:audio")
	require.Equal(t, []string{"model:tts", "back"}, h.panel(userID).order)
}
