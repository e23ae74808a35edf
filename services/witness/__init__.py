"""An independent witness: checks each checkpoint of the log extends the last it saw, cosigns."""
