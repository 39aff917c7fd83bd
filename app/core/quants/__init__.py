"""Quant types, what each costs and gives, the recommended pick, making a quant."""
