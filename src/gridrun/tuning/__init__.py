"""Adaptive search and early stopping: the Bayesian strategy's space and proposer, the rules
that prune losing experiments, and the targets that end a sweep."""
