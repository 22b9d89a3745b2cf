"""The test double's controls: the request journal, fault rules and the model's state."""
