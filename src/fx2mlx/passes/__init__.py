"""Graph passes: each file holds one pass that reads and writes ``node.meta``."""
