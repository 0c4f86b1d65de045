"""Find repositories, clone and pin them, and find their nn.Module classes without running them.

`repo_ref` names a repository, `clone` pins it to a commit on disk, `scan`
reads its source statically, `discover` finds candidates on GitHub and
`driver` runs a crawl end to end.
"""
