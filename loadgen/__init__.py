"""capture-loadgen."""
