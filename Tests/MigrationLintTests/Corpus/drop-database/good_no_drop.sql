SELECT 'DROP DATABASE ecomansoni' AS just_text;
