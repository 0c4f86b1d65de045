"""graphcrawl: how well does PyTorch 2 graph capture work on real code?"""
__version__ = "0.1.0"
