"""The Compare page's parts: measuring quants of one model, the results table and charts,
the tabs that put answers next to each other (Side by side, Blind arena), and Make a quant."""
