"""Which quant: the table of a model's files with fit and quality."""
