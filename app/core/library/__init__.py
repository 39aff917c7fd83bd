"""The models on this computer: folders, other apps' stores, the starter model."""
