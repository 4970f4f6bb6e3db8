"""Reading input: tables (CSV, Parquet, Excel, text), amounts, customer IDs, chunked reading,
event logs and the JSON documents segment-copilot writes."""
