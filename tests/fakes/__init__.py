"""Test fakes at process and HTTP boundaries. The scripted model server lives in the package
(``minicode_lsp.testing``) so ``minicode-lsp demo`` can use it too."""

from minicode_lsp.testing.model_server import RecordedRequest, ScriptedModelServer

__all__ = ["RecordedRequest", "ScriptedModelServer"]
