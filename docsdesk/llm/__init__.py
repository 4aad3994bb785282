"""The model layer: building models, synthesised Responses streams, the offline answerer."""
