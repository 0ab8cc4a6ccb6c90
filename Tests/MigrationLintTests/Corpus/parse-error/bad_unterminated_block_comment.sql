-- expect: 2:1
/* outer /* inner */ still open
SELECT 1;
