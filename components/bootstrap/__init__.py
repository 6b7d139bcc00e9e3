"""The bootstrap layer's building blocks (bootstrap/__main__.py composes them): what the other layers stand on,
created once per AWS account."""
