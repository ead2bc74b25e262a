"""The pure rules core: events, parameters and an explicit clock in; state and findings out."""
