"""Event-stream simulator: generates a force's events calibrated to an inspection profile."""
