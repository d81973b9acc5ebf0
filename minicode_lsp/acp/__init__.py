"""The Agent Client Protocol frontend: ``minicode-lsp acp``.

A third frontend over the same service and store as the language server and the CLI: an ACP
agent speaking newline-delimited JSON-RPC on stdio through the ``agent-client-protocol`` SDK
(the optional extra ``minicode-lsp[acp]``). The ACP ``sessionId`` is the store's session id.
Nothing of pygls is imported here; nothing but protocol frames goes to stdout.
"""
