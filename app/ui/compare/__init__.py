"""The Compare page's tabs that put answers next to each other: Side by side, Blind arena,
Make a quant."""
