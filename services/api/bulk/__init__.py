"""What every streamed bulk upload shares: reading the body (stream), turning lines into rows of text (rows), the
staging tables and their SQL (staging), the batch bookkeeping and its answer (batches, schemas), and the route's
parameters and request body (http). What a valid row is stays with each upload's own package (actuals,
purchasing)."""
