"""Code generation: scopes to classes, nodes to expressions, expressions to a formatted file."""
