"""Reports over the graphcrawl database: success rates, run comparison, failure triage.

Readers only: every function opens the database read-only and reads one
snapshot, so reports run while a crawl writes. Modules, one job each:

  scope         which results (run, project) and the read snapshot
  predicates    SQL for "ran in eager", "captured", "compiled", ... (one place)
  funnel, rates, distributions, breaks, yields, projects   the report's sections
  summary       all sections as one `Report`
  tables, terminal, markdown, csvout, html   renderers
  compare       run A vs run B over common cases
  signature, triage   failure signatures and clusters
  repro         standalone repro scripts (template: repro_template.py)
  api           the commands as library calls (the CLI is a thin layer over it)
"""
