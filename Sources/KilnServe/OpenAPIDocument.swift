/// The OpenAPI 3.1 document of the injection API, served at `GET /v1/openapi.json`. It is
/// the text of `docs/openapi.json`, byte for byte (a test compares them, so they cannot
/// drift): after editing that file, paste it between the delimiters below, keeping the
/// empty line before the closing one (the file ends with a newline).
enum OpenAPIDocument {
    static let text = #"""
{
  "openapi": "3.1.0",
  "info": {
    "title": "Kiln injection API",
    "version": "1.0.0",
    "description": "Hands messages to Kiln over HTTP: one message (rendered per recipient from templates, or one raw RFC 5322 message) to up to 1,000 recipients per request, and each recipient's message state afterwards. Every answer is JSON with `Cache-Control: no-store`; every error has the shape `{\"error\": {\"code\", \"message\", \"path\"?}}`. The only server error is 503 (the store cannot take the message now: nothing was kept, try again after `Retry-After` seconds)."
  },
  "security": [
    {
      "basic": []
    }
  ],
  "paths": {
    "/v1/messages": {
      "post": {
        "operationId": "submitMessage",
        "summary": "Submit a message to one or more recipients",
        "description": "Authenticates the credential, checks the body (400 naming the JSON path of the first problem), authorizes the sender and configuration set, checks the tenant's quota, renders the message per recipient and stores it durably before answering. A recipient the backend will not send to (suppressed, an address it cannot use) is a line of `rejected`, not an error.",
        "requestBody": {
          "required": true,
          "content": {
            "application/json": {
              "schema": {
                "$ref": "#/components/schemas/SubmitRequest"
              }
            }
          }
        },
        "responses": {
          "200": {
            "description": "Stored: one message per accepted recipient.",
            "headers": {
              "Cache-Control": {
                "$ref": "#/components/headers/CacheControl"
              }
            },
            "content": {
              "application/json": {
                "schema": {
                  "$ref": "#/components/schemas/SubmitResponse"
                }
              }
            },
            "links": {
              "GetFirstMessage": {
                "operationId": "getMessage",
                "parameters": {
                  "id": "$response.body#/messages/0/messageId"
                },
                "description": "The state of the first accepted recipient's message."
              }
            }
          },
          "400": {
            "$ref": "#/components/responses/BadRequest"
          },
          "401": {
            "$ref": "#/components/responses/Unauthorized"
          },
          "403": {
            "$ref": "#/components/responses/Forbidden"
          },
          "413": {
            "$ref": "#/components/responses/ContentTooLarge"
          },
          "415": {
            "$ref": "#/components/responses/UnsupportedMediaType"
          },
          "429": {
            "$ref": "#/components/responses/TooManyRequests"
          },
          "503": {
            "$ref": "#/components/responses/ServiceUnavailable"
          }
        }
      }
    },
    "/v1/messages/{id}": {
      "get": {
        "operationId": "getMessage",
        "summary": "A message's state, attempts and events",
        "parameters": [
          {
            "name": "id",
            "in": "path",
            "required": true,
            "description": "The `messageId` that `POST /v1/messages` returned: a decimal number.",
            "schema": {
              "type": "string",
              "pattern": "^[0-9]+$"
            }
          }
        ],
        "responses": {
          "200": {
            "description": "The message.",
            "headers": {
              "Cache-Control": {
                "$ref": "#/components/headers/CacheControl"
              }
            },
            "content": {
              "application/json": {
                "schema": {
                  "$ref": "#/components/schemas/MessageStatus"
                }
              }
            }
          },
          "401": {
            "$ref": "#/components/responses/Unauthorized"
          },
          "403": {
            "$ref": "#/components/responses/Forbidden"
          },
          "404": {
            "$ref": "#/components/responses/NotFound"
          },
          "429": {
            "$ref": "#/components/responses/TooManyRequests"
          },
          "503": {
            "$ref": "#/components/responses/ServiceUnavailable"
          }
        }
      }
    },
    "/v1/openapi.json": {
      "get": {
        "operationId": "getOpenAPIDocument",
        "summary": "This document",
        "security": [],
        "responses": {
          "200": {
            "description": "The OpenAPI 3.1 document of this API.",
            "headers": {
              "Cache-Control": {
                "$ref": "#/components/headers/CacheControl"
              }
            },
            "content": {
              "application/json": {
                "schema": {
                  "type": "object"
                }
              }
            }
          }
        }
      }
    }
  },
  "components": {
    "securitySchemes": {
      "basic": {
        "type": "http",
        "scheme": "basic",
        "description": "A credential's name and secret (RFC 7617, UTF-8). Repeated failures from one address are slowed, then locked out (429 with `Retry-After`)."
      }
    },
    "headers": {
      "CacheControl": {
        "description": "Every answer is `no-store`.",
        "required": true,
        "schema": {
          "type": "string",
          "const": "no-store"
        }
      },
      "RetryAfter": {
        "description": "Seconds to wait before trying again.",
        "required": true,
        "schema": {
          "type": "integer",
          "minimum": 0
        }
      },
      "WWWAuthenticate": {
        "description": "The challenge: `Basic realm=\"kiln\"`.",
        "required": true,
        "schema": {
          "type": "string",
          "const": "Basic realm=\"kiln\""
        }
      }
    },
    "responses": {
      "BadRequest": {
        "description": "The body is not a valid message: not JSON, a wrong type, a missing or unknown field, a bad address, bad base64... (`invalid_request`, with `path` naming the field, such as `recipients[3].email`, when the problem is in one); or the backend found the message invalid (no From header in a raw message...).",
        "headers": {
          "Cache-Control": {
            "$ref": "#/components/headers/CacheControl"
          }
        },
        "content": {
          "application/json": {
            "schema": {
              "$ref": "#/components/schemas/Error"
            }
          }
        }
      },
      "Unauthorized": {
        "description": "No `Authorization: Basic` header, a malformed one (`authentication_required`), or a wrong name or secret, or a revoked credential (`bad_credentials`).",
        "headers": {
          "Cache-Control": {
            "$ref": "#/components/headers/CacheControl"
          },
          "WWW-Authenticate": {
            "$ref": "#/components/headers/WWWAuthenticate"
          }
        },
        "content": {
          "application/json": {
            "schema": {
              "$ref": "#/components/schemas/Error"
            }
          }
        }
      },
      "Forbidden": {
        "description": "The credential may not be used from this address (`forbidden_source`), or may not use this sender or configuration set (`forbidden_sender`), or must be used over TLS (`tls_required`).",
        "headers": {
          "Cache-Control": {
            "$ref": "#/components/headers/CacheControl"
          }
        },
        "content": {
          "application/json": {
            "schema": {
              "$ref": "#/components/schemas/Error"
            }
          }
        }
      },
      "NotFound": {
        "description": "No message has this id for this tenant (also when `id` is not a decimal message id) (`not_found`).",
        "headers": {
          "Cache-Control": {
            "$ref": "#/components/headers/CacheControl"
          }
        },
        "content": {
          "application/json": {
            "schema": {
              "$ref": "#/components/schemas/Error"
            }
          }
        }
      },
      "ContentTooLarge": {
        "description": "The body is over the size limit (32 MiB by default) or the message over the backend's size limit (`too_big`), or it has more than 1,000 recipients (`too_many_recipients`).",
        "headers": {
          "Cache-Control": {
            "$ref": "#/components/headers/CacheControl"
          }
        },
        "content": {
          "application/json": {
            "schema": {
              "$ref": "#/components/schemas/Error"
            }
          }
        }
      },
      "UnsupportedMediaType": {
        "description": "The body is not `Content-Type: application/json` (`unsupported_media_type`).",
        "headers": {
          "Cache-Control": {
            "$ref": "#/components/headers/CacheControl"
          }
        },
        "content": {
          "application/json": {
            "schema": {
              "$ref": "#/components/schemas/Error"
            }
          }
        }
      },
      "TooManyRequests": {
        "description": "Too many failed logins from this address (`locked_out`), or the tenant is over its quota (`over_quota`).",
        "headers": {
          "Cache-Control": {
            "$ref": "#/components/headers/CacheControl"
          },
          "Retry-After": {
            "$ref": "#/components/headers/RetryAfter"
          }
        },
        "content": {
          "application/json": {
            "schema": {
              "$ref": "#/components/schemas/Error"
            }
          }
        }
      },
      "ServiceUnavailable": {
        "description": "The store cannot take it now; nothing was kept (`unavailable`).",
        "headers": {
          "Cache-Control": {
            "$ref": "#/components/headers/CacheControl"
          },
          "Retry-After": {
            "$ref": "#/components/headers/RetryAfter"
          }
        },
        "content": {
          "application/json": {
            "schema": {
              "$ref": "#/components/schemas/Error"
            }
          }
        }
      }
    },
    "schemas": {
      "Address": {
        "description": "An email address: one `@` with text on both sides, no space, control character, `<` or `>`. Whether it can receive mail is decided later: a recipient that cannot is a line of `rejected`.",
        "type": "string",
        "maxLength": 254,
        "pattern": "^[^\\u0000-\\u0020\\u007f<>@]+@[^\\u0000-\\u0020\\u007f<>@]+$"
      },
      "Line": {
        "description": "Text on one line: no control character but tab.",
        "type": "string",
        "pattern": "^[^\\u0000-\\u0008\\u000a-\\u001f\\u007f]*$"
      },
      "ScalarMap": {
        "description": "Names to strings; numbers and booleans are taken as their JSON text (`1.50` is `\"1.50\"`, `true` is `\"true\"`).",
        "type": "object",
        "additionalProperties": {
          "type": [
            "string",
            "number",
            "boolean"
          ]
        }
      },
      "Recipient": {
        "type": "object",
        "additionalProperties": false,
        "required": [
          "email"
        ],
        "properties": {
          "email": {
            "$ref": "#/components/schemas/Address"
          },
          "name": {
            "$ref": "#/components/schemas/Line",
            "description": "The display name in the To header."
          },
          "substitutions": {
            "$ref": "#/components/schemas/ScalarMap",
            "description": "Template variables for this recipient (Mustache)."
          },
          "metadata": {
            "$ref": "#/components/schemas/ScalarMap",
            "description": "Comes back with every event of this recipient's message."
          }
        }
      },
      "SubmitRequest": {
        "description": "A message: either templates (`from`, `subject`, and `text` or `html` or both, rendered per recipient) or `raw`, a whole RFC 5322 message in base64 sent as is (then `subject`, `text` and `html` must be absent, and `from`, the envelope sender, is optional: the message has its From). `null` is never accepted in place of a value: leave the member out.",
        "type": "object",
        "additionalProperties": false,
        "required": [
          "recipients"
        ],
        "properties": {
          "from": {
            "$ref": "#/components/schemas/Address",
            "description": "The sender's address; required unless `raw` is given."
          },
          "fromName": {
            "$ref": "#/components/schemas/Line",
            "description": "The sender's display name."
          },
          "configurationSet": {
            "$ref": "#/components/schemas/Line",
            "minLength": 1,
            "description": "The configuration set (pool, tracking, unsubscribe); the default one when absent."
          },
          "transactional": {
            "type": "boolean",
            "default": false,
            "description": "Transactional mail (receipts, password resets): no unsubscribe link, sent ahead of bulk."
          },
          "subject": {
            "$ref": "#/components/schemas/Line",
            "description": "The subject template."
          },
          "text": {
            "type": "string",
            "description": "The plain-text body template."
          },
          "html": {
            "type": "string",
            "description": "The HTML body template."
          },
          "raw": {
            "type": "string",
            "minLength": 4,
            "pattern": "^(?:[A-Za-z0-9+/]{4})*(?:[A-Za-z0-9+/]{2}==|[A-Za-z0-9+/]{3}=)?$",
            "contentEncoding": "base64",
            "contentMediaType": "message/rfc822",
            "description": "A whole RFC 5322 message, in padded base64 (RFC 4648 section 4) without line breaks."
          },
          "headers": {
            "type": "object",
            "description": "Extra header fields, name to value.",
            "propertyNames": {
              "pattern": "^[!-9;-~]+$"
            },
            "additionalProperties": {
              "$ref": "#/components/schemas/Line"
            }
          },
          "tags": {
            "type": "array",
            "items": {
              "$ref": "#/components/schemas/Line",
              "minLength": 1
            }
          },
          "recipients": {
            "type": "array",
            "minItems": 1,
            "maxItems": 1000,
            "description": "One message each. More than 1,000 is answered 413 (`too_many_recipients`), none 400.",
            "items": {
              "$ref": "#/components/schemas/Recipient"
            }
          }
        },
        "oneOf": [
          {
            "title": "Templates",
            "required": [
              "from",
              "subject"
            ],
            "anyOf": [
              {
                "required": [
                  "text"
                ]
              },
              {
                "required": [
                  "html"
                ]
              }
            ],
            "not": {
              "required": [
                "raw"
              ]
            }
          },
          {
            "title": "Raw",
            "required": [
              "raw"
            ],
            "not": {
              "anyOf": [
                {
                  "required": [
                    "subject"
                  ]
                },
                {
                  "required": [
                    "text"
                  ]
                },
                {
                  "required": [
                    "html"
                  ]
                }
              ]
            }
          }
        ]
      },
      "SubmitResponse": {
        "type": "object",
        "additionalProperties": false,
        "required": [
          "accepted",
          "messages",
          "rejected"
        ],
        "properties": {
          "accepted": {
            "type": "integer",
            "minimum": 0,
            "description": "How many recipients' messages were stored."
          },
          "messages": {
            "type": "array",
            "items": {
              "type": "object",
              "additionalProperties": false,
              "required": [
                "email",
                "messageId"
              ],
              "properties": {
                "email": {
                  "type": "string"
                },
                "messageId": {
                  "type": "string",
                  "pattern": "^[0-9]+$",
                  "description": "For `GET /v1/messages/{id}`."
                }
              }
            }
          },
          "rejected": {
            "type": "array",
            "items": {
              "type": "object",
              "additionalProperties": false,
              "required": [
                "email",
                "reason"
              ],
              "properties": {
                "email": {
                  "type": "string"
                },
                "reason": {
                  "type": "string"
                }
              }
            }
          }
        }
      },
      "MessageStatus": {
        "type": "object",
        "additionalProperties": false,
        "required": [
          "messageId",
          "email",
          "tenant",
          "state",
          "attempts",
          "metadata",
          "events"
        ],
        "properties": {
          "messageId": {
            "type": "string"
          },
          "email": {
            "type": "string"
          },
          "tenant": {
            "type": "string"
          },
          "state": {
            "type": "string",
            "description": "Where the message is: queued, deferred, delivered, bounced..."
          },
          "attempts": {
            "type": "integer",
            "minimum": 0
          },
          "metadata": {
            "type": "object",
            "additionalProperties": {
              "type": "string"
            }
          },
          "events": {
            "type": "array",
            "items": {
              "type": "object",
              "additionalProperties": false,
              "required": [
                "time",
                "kind"
              ],
              "properties": {
                "time": {
                  "type": "string",
                  "description": "When, in RFC 3339."
                },
                "kind": {
                  "type": "string"
                },
                "detail": {
                  "type": "string"
                },
                "code": {
                  "type": "integer",
                  "description": "The SMTP reply code, for an attempt."
                },
                "status": {
                  "type": "string",
                  "description": "The enhanced status code (RFC 3463), for an attempt."
                },
                "text": {
                  "type": "string",
                  "description": "The reply text, for an attempt."
                }
              }
            }
          }
        }
      },
      "Error": {
        "type": "object",
        "additionalProperties": false,
        "required": [
          "error"
        ],
        "properties": {
          "error": {
            "type": "object",
            "additionalProperties": false,
            "required": [
              "code",
              "message"
            ],
            "properties": {
              "code": {
                "type": "string",
                "enum": [
                  "invalid_request",
                  "authentication_required",
                  "bad_credentials",
                  "forbidden_source",
                  "forbidden_sender",
                  "tls_required",
                  "not_found",
                  "too_big",
                  "too_many_recipients",
                  "unsupported_media_type",
                  "locked_out",
                  "over_quota",
                  "unavailable"
                ]
              },
              "message": {
                "type": "string",
                "description": "Plain words, safe to show (never a secret)."
              },
              "path": {
                "type": "string",
                "description": "The JSON path of the field at fault, such as `recipients[3].email` or `recipients[1].substitutions.x` (a name that is not letters, digits, `_` and `-` is written `[\"name\"]`)."
              }
            }
          }
        }
      }
    }
  }
}

"""#
}
