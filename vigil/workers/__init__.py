"""Long-running consumers started by `vigil worker NAME`; they reach the outside through ports."""
