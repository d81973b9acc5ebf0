"""A tiny calculator with a bug for the demo to fix."""


def add(a, b):
    return a - b


def mean(values):
    return add(sum(values), 0) / len(values)
