"""DynamoDB: moto's, costing what DynamoDB costs, with the TTL process moto lacks."""
