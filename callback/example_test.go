package callback_test

import (
	"errors"
	"fmt"
	"strconv"
	"strings"

	"github.com/dispatcher-bot/dispatcher/callback"
)

func ExampleCodec() {
	type page struct{ N int }
	pages := callback.Codec[page]{Action: "page",
		To:   func(p page) []string { return []string{strconv.Itoa(p.N)} },
		From: func(a []string) (page, error) { n, err := strconv.Atoi(a[0]); return page{n}, err }}

	data, _ := pages.Encode(page{N: 3})
	fmt.Println(data)
	p, _ := pages.Decode(data)
	fmt.Println(p.N)

	_, err := callback.Data{Action: "x", Args: []string{strings.Repeat("a", 32), strings.Repeat("b", 32)}}.Encode()
	fmt.Println(errors.Is(err, callback.ErrBadData), err)
	// Output:
	// v1:page:3
	// 3
	// true router: bad callback data: 70 bytes, limit 64
}
