"""Notebook entries: what a researcher did, in Markdown (rendered and sanitised), with attached
files and images, linked to the records its text names (CELL-0042 becomes a link for readers who
may see that cell), shown on those records' pages, with the history of every change."""
