"""Prompt files, shipped inside the wheel as the package ``copilot.prompts``.

Each ``*.md`` file has front matter (id, version, inputs) and a body rendered strictly by
:mod:`copilot.llm.prompts`.
"""
