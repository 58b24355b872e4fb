"""The scenario: a YAML file read with the line of every value, and turned into one typed, validated config object."""
