//! The font every chart is drawn with: DejaVu Sans, bundled in `assets/fonts/` (Bitstream
//! Vera license beside it) and compiled into the binary, so PNG charts show legible text
//! on a machine with no fonts installed. SVG charts name the same family and fall back to
//! the viewer's sans-serif.

use std::sync::Once;

/// The family name charts ask plotters for.
pub const FAMILY: &str = "sans-serif";

static DEJAVU_SANS: &[u8] = include_bytes!("../../assets/fonts/DejaVuSans.ttf");

/// Registers the bundled font with plotters once per process.
pub fn register() {
    static ONCE: Once = Once::new();
    ONCE.call_once(|| {
        // The bytes are a font file compiled in from the repository; a failure here is a
        // broken build, not a user error.
        if plotters::style::register_font(FAMILY, plotters::style::FontStyle::Normal, DEJAVU_SANS)
            .is_err()
        {
            panic!("the bundled DejaVu Sans font does not parse");
        }
    });
}
