-- expect: 2:1
DROP DATABASE ecomansoni;
