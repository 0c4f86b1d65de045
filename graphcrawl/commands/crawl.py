"""`graphcrawl crawl`: discover or take repos, clone, scan, validate, store."""
from __future__ import annotations

import argparse
from pathlib import Path

from rich.console import Console

from graphcrawl.errors import UserError
from graphcrawl.options import add_db_option


def add_parser(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("crawl", help="validate the nn.Modules of GitHub projects into the database",
                       description="Clone repositories at a pinned commit, find their nn.Module classes, "
                                   "and run each through eager, TorchDynamo capture and the backend in "
                                   "sandboxed workers. Re-running the same command resumes.")
    add_db_option(p)
    src = p.add_argument_group("which repositories")
    src.add_argument("--repo", action="append", default=[], metavar="URL",
                     help="a git URL, local path or owner/name (repeatable)")
    src.add_argument("--repos-file", type=Path, help="file with one git URL or owner/name per line")
    src.add_argument("--limit", type=int, help="discover the N most-starred PyTorch projects on GitHub")
    src.add_argument("--query", help="GitHub search query for discovery (default: PyTorch Python projects)")
    src.add_argument("--min-stars", type=int, default=10, help="star floor for discovery (default 10)")
    src.add_argument("--max-repo-kb", type=int, default=500_000, help="skip repos larger than this (GitHub size, KB)")
    src.add_argument("--api-base", default="https://api.github.com", help="GitHub API base URL")
    src.add_argument("--clone-base", default="https://github.com", help="base URL for owner/name clones")
    src.add_argument("--discover-only", action="store_true", help="stop after discovery")
    run = p.add_argument_group("the run")
    run.add_argument("--run", dest="run_name", help="run name (default: derived from torch version, device, backend)")
    run.add_argument("--device", default="cpu", help="cpu (C++/OpenMP) or cuda (Triton)")
    run.add_argument("--backend", default="inductor", help="torch.compile backend (default inductor)")
    run.add_argument("--compile-mode", default=None, help="torch.compile mode, e.g. reduce-overhead")
    run.add_argument("--fullgraph", action="store_true", help="a graph break fails capture")
    run.add_argument("--dynamic", choices=["true", "false"], default=None, help="torch.compile dynamic=")
    check = run.add_mutually_exclusive_group()
    check.add_argument("--check", dest="check", choices=["inference", "training", "dynamic", "export", "eager"],
                       help="what the run validates (default inference; run name -CHECK); the flags below are "
                            "short forms; eager: stop after eager, nothing compiled (which modules run, before "
                            "spending compile time)")
    check.add_argument("--training", dest="check", action="store_const", const="training",
                       help="validate forward + loss + backward (gradients) instead of inference; run name -training")
    check.add_argument("--dynamic-shapes", dest="check", action="store_const", const="dynamic",
                       help="run the compiled module on inputs of new sizes (recompiles, parity); run name -dynamic")
    check.add_argument("--export", dest="check", action="store_const", const="export",
                       help="torch.export (non-strict and strict), save/load, a dynamic batch and AOTInductor "
                            "instead of torch.compile; run name -export")
    run.add_argument("--workers", type=int, help="parallel workers (default: one per core, or per GPU; "
                                                 "with --executor ray: per node)")
    run.add_argument("--timeout", type=float, default=300.0,
                     help="CPU seconds per case, of its whole process tree (gcc included): a busy machine does "
                          "not change a verdict (default 300)")
    run.add_argument("--wall-timeout", type=float, default=None,
                     help="wall-clock backstop per case, for one that sleeps or blocks: past it a case that "
                          "used under a quarter of its CPU budget ends (default 4 x --timeout)")
    run.add_argument("--no-confirm", dest="confirm", action="store_false",
                     help="record a compiler failure without rerunning it once in a fresh process "
                          "(by default a failure the rerun does not repeat is recorded flaky)")
    run.add_argument("--no-warm", dest="warm", action="store_false",
                     help="do not warm the compiler in each worker before forking cases (for measuring what "
                          "warming saves; results are the same)")
    run.add_argument("--two-traces", dest="single_trace", action="store_false",
                     help="trace each module twice, once with a counting eager backend (capture figures, hook "
                          "timing) and once to compile, as before one trace did both (for measuring what it saves)")
    run.add_argument("--mem-mb", type=int, default=6144, help="address-space limit per case, MB (default 6144)")
    run.add_argument("--deduce-budget", type=float, default=60.0, help="CPU seconds to find args/inputs per module")
    run.add_argument("--max-cases", type=int, help="stop submitting after N cases (a quick look)")
    run.add_argument("--workdir", type=Path, default=Path("workdir"), help="checkouts and caches (default ./workdir)")
    run.add_argument("--min-free-mb", type=float, default=1024.0,
                     help="don't clone when the workdir has less free disk than this (default 1024)")
    run.add_argument("--delete-checkouts", action="store_true", help="delete each checkout once validated")
    run.add_argument("--unsafe-no-sandbox", action="store_true",
                     help="run crawled code without bubblewrap (only for code you trust)")
    run.add_argument("--no-progress", action="store_true", help="no live progress bar")
    scale = p.add_argument_group("scale out")
    scale.add_argument("--executor", choices=["local", "ray"], default="local",
                       help="local: this machine's workers (default); ray: every node of a Ray cluster")
    scale.add_argument("--ray-address", default=None,
                       help="Ray cluster address (default: $RAY_ADDRESS, else a cluster on this machine)")
    scale.add_argument("--shard", default=None, metavar="I/N",
                       help="take only a stable 1/N of the repos (by a hash of the repo id); merge the "
                            "shard databases with `graphcrawl merge`")
    p.set_defaults(func=run_command)


def run_command(args: argparse.Namespace) -> int:
    from capture.workers.sandbox import INSTALL_HINT, SandboxUnavailable, bwrap_problem
    from crawler.config import CrawlConfig
    from crawler.driver import Crawl
    from crawler.progress import CrawlProgress, summary_table
    from crawler.repo_ref import parse_repo, read_repos_file
    from crawler.shard import in_shard, parse_shard
    from db.store import Store

    specs = list(args.repo)
    if args.repos_file:
        if not args.repos_file.is_file():
            raise UserError(f"{args.repos_file}: no such file")
        specs += read_repos_file(args.repos_file)
    if not specs and args.limit is None:
        raise UserError("say which repositories: --repo URL, --repos-file FILE or --limit N")
    for spec in specs:  # every bad spec is refused before anything starts or is written
        try:
            parse_repo(spec, args.clone_base)
        except ValueError as exc:
            raise UserError(str(exc)) from None
    try:
        shard = parse_shard(args.shard) if args.shard else None
    except ValueError as exc:
        raise UserError(str(exc)) from None
    if shard:
        try:
            specs = [s for s in specs if in_shard(parse_repo(s, args.clone_base.rstrip("/")).id, shard)]
        except ValueError as exc:
            raise UserError(str(exc)) from None
    if not args.unsafe_no_sandbox and not args.discover_only and args.executor == "local":
        problem = bwrap_problem()
        if problem:
            raise UserError(f"refusing to run crawled code unsandboxed: {problem}; {INSTALL_HINT}")
    cfg = CrawlConfig(
        db_path=Path(args.db), workdir=args.workdir, clone_base=args.clone_base.rstrip("/"),
        run_name=args.run_name, device=args.device, backend=args.backend, compile_mode=args.compile_mode,
        fullgraph=args.fullgraph, dynamic=None if args.dynamic is None else args.dynamic == "true",
        workers=args.workers, timeout_s=args.timeout, wall_timeout_s=args.wall_timeout, confirm=args.confirm,
        warm=args.warm, single_trace=args.single_trace,
        mem_mb=args.mem_mb, deduce_budget_s=args.deduce_budget,
        unsafe_no_sandbox=args.unsafe_no_sandbox, delete_checkouts=args.delete_checkouts,
        max_cases=args.max_cases, max_repo_mb=args.max_repo_kb / 1024, min_free_mb=args.min_free_mb,
        check=args.check or "inference", executor=args.executor, ray_address=args.ray_address)
    console = Console(stderr=True)
    with Store(cfg.db_path) as store:
        store.lock_for_writing()
        with CrawlProgress(console, enabled=not args.no_progress) as progress:
            crawl = Crawl(cfg, store, on_event=progress)
            try:
                ids = crawl.add_repos(specs)
            except ValueError as exc:
                raise UserError(str(exc)) from None
            if args.limit is not None:
                ids += [i for i in discover_into(store, args, progress) if in_shard(i, shard)]
            if args.discover_only:
                console.print(f"discovered {len(ids)} repositories into {cfg.db_path}")
                return 0
            try:
                summary = crawl.run(list(dict.fromkeys(ids)))
            except SandboxUnavailable as exc:
                raise UserError(str(exc)) from None
            except RuntimeError as exc:
                raise UserError(str(exc)) from None
        Console().print(summary_table(summary.counts, summary.repos, summary.run_id, summary.wall_s))
    return 0


def discover_into(store, args: argparse.Namespace, progress) -> list[str]:  # type: ignore[no-untyped-def]
    """GitHub search -> repos table; returns the ids of the N most-starred matches."""
    import os

    from crawler.discover import discover
    repos = discover(store, api_base=args.api_base.rstrip("/"), query=args.query, min_stars=args.min_stars,
                     limit=args.limit, max_size_kb=args.max_repo_kb, token=os.environ.get("GITHUB_TOKEN"),
                     on_event=progress)
    if args.clone_base.rstrip("/") != "https://github.com":
        for r in repos:
            store.upsert_repo({"id": r["id"], "url": f"{args.clone_base.rstrip('/')}/{r['id']}.git"})
    return [r["id"] for r in repos]
