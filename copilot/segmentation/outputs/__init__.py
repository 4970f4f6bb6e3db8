"""Files for other systems: assignments, CRM files, the glossary, per-level outputs, and
publishing an output folder whole or not at all."""
