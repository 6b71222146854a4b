package browsertest

import (
	"context"
	"fmt"
	"os"
	"path/filepath"

	"github.com/chromedp/cdproto/emulation"
	"github.com/chromedp/chromedp"
)

// Viewports the tests take screenshots at: a laptop and a phone.
var (
	Desktop = Viewport{1280, 800, false}
	Phone   = Viewport{390, 844, true}
)

// Viewport is a screen size.
type Viewport struct {
	Width, Height int64
	Mobile        bool
}

// String names the viewport in file names, e.g. "1280x800".
func (v Viewport) String() string { return fmt.Sprintf("%dx%d", v.Width, v.Height) }

// Resize sets the page's viewport to v.
func Resize(ctx context.Context, v Viewport) error {
	_, err := chromedp.Call(ctx, emulation.SetDeviceMetricsOverride, emulation.SetDeviceMetricsOverrideParams{
		Width: v.Width, Height: v.Height, DeviceScaleFactor: 1, Mobile: v.Mobile,
	})
	return err
}

// Screenshot resizes the page to v, takes a PNG of what is visible and
// writes it to dir/name-WxH.png. It returns the file's path.
func Screenshot(ctx context.Context, dir, name string, v Viewport) (string, error) {
	if err := Resize(ctx, v); err != nil {
		return "", fmt.Errorf("screenshot %s at %s: %w", name, v, err)
	}
	png, err := chromedp.Run(ctx, chromedp.CaptureScreenshot())
	if err != nil {
		return "", fmt.Errorf("screenshot %s at %s: %w", name, v, err)
	}
	path := filepath.Join(dir, name+"-"+v.String()+".png")
	if err := os.WriteFile(path, png, 0o644); err != nil {
		return "", err
	}
	return path, nil
}
