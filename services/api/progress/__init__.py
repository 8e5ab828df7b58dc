"""The plans' monitoring cycle: expected reports, progress reports and their review, the views of what is due."""
