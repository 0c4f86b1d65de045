"""What a case is run through: named steps composed into one funnel per check.

steps.py holds the steps (each announces its stage, times itself and raises
the status it decides); funnels.py composes them (inference) and runs a
request; training.py and dynamic.py are the training and dynamic-shape
checks' own steps. A new check is a funnel here over the same steps.
"""
