"""How crawled code is imported: a class from its checkout, third-party gaps stubbed.

importer.py loads a class and stubs what is missing (recorded on the case);
repo_paths.py finds the repo's own top-level names; stub_torch.py and
stub_versions.py answer torch calls and version checks that cannot work
here, old_runtime.py the numpy and Python removals old code relies on;
vision_ops.py lets torchvision import where its C++ extension cannot load;
einops_standin.py is a working einops when none is installed;
crawl_env.py names the crawl environment's packages and their versions.
"""
