"""The LLM layer: providers, prompts, grounded writers. Imports the engine, never the UI."""
