# One tenant, registered from Terraform: its Cognito user pool, app client and registration, as
# a CloudFormation stack of examples/tenant.yaml. The registration is a CloudFormation custom
# resource, so it needs CloudFormation's protocol (a pre-signed ResponseURL, a Delete when the
# stack goes); aws_cloudformation_stack provides it, and the registrar checks that the pool is
# a resource of that same stack. An aws_lambda_invocation cannot stand in for it.

terraform {
  required_version = ">= 1.5"
  required_providers {
    aws = {
      source  = "hashicorp/aws"
      version = ">= 5.0"
    }
  }
}

variable "tenant_name" {
  description = "Short name of the tenant, e.g. acme (lower case, digits, dashes)."
  type        = string

  validation {
    condition     = can(regex("^[a-z][a-z0-9-]{1,40}$", var.tenant_name))
    error_message = "tenant_name must match [a-z][a-z0-9-]{1,40}, as examples/tenant.yaml's TenantName."
  }
}

variable "registrar_stack_name" {
  description = "Name of the stack deployed from template.yaml (it exports the ServiceToken)."
  type        = string
  default     = "shared-authorizer-pools"
}

variable "tags" {
  description = "Tags for the tenant's stack (CloudFormation passes them to its resources)."
  type        = map(string)
  default     = {}
}

resource "aws_cloudformation_stack" "tenant" {
  name          = "tenant-${var.tenant_name}"
  template_body = file("${path.module}/../../tenant.yaml")
  parameters = {
    TenantName         = var.tenant_name
    RegistrarStackName = var.registrar_stack_name
  }
  tags = var.tags

  # Longer than the registration's ServiceTimeout (3,600 s in tenant.yaml): on a launch day the
  # registrar may answer only near it, and Terraform must not give up on the stack first.
  timeouts {
    create = "70m"
    update = "70m"
    delete = "70m"
  }
}

output "user_pool_id" {
  description = "The tenant's user pool, registered on the shared API's authorizer."
  value       = aws_cloudformation_stack.tenant.outputs["UserPoolId"]
}

output "user_pool_arn" {
  value = aws_cloudformation_stack.tenant.outputs["UserPoolArn"]
}

output "app_client_id" {
  value = aws_cloudformation_stack.tenant.outputs["AppClientId"]
}

output "registered_on" {
  description = "The REST API and authorizer the pool was registered on (api id/authorizer id)."
  value       = aws_cloudformation_stack.tenant.outputs["RegisteredOn"]
}
