"""My Models: the models on this computer."""
