"""The Compare page's tabs that put answers side by side: Side by side, Blind arena, Make a quant."""
