package render_test

import (
	"fmt"
	"image"

	"github.com/guichet/guichet/device/display"
	"github.com/guichet/guichet/device/display/render"
)

func ExampleScreen() {
	img, err := render.Screen(display.Screen{QR: "G42-0001", Lines: []string{"CNY", "12.50"}}, image.Pt(128, 64))
	if err != nil {
		fmt.Println(err)
		return
	}
	fmt.Println(img.Rect.Size())

	_, err = render.Screen(display.Screen{QR: "G42-0001-CN12.50-TILL03"}, image.Pt(128, 32))
	fmt.Println(err)
	// Output:
	// (128,64)
	// render: QR payload too big for the panel: 23 bytes need 33 modules with quiet zone, panel has 32 pixels
}
