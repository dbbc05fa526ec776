"""Minutes of a meeting: their content as plain values, the Word document and the summary
message made from it."""
