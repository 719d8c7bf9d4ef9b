"""The shared kernel: rules and helpers every app uses. Imports no domain app."""
