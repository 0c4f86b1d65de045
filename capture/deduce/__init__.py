"""How a case is built: constructor args and forward inputs that make a module run.

search.py drives the search (read, guess, try, fix one thing at a time);
static.py reads the source, values.py guesses constructor values, inputs.py
candidate inputs, fixes.py error-driven edits, repo_args.py the repo's own
layers and factories as arguments, shapecheck.py shapes forward checks for.
specs.py stores every value as JSON data; replay.py rebuilds a stored case.
"""
