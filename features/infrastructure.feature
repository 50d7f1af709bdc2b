Feature: The Terraform deployment is locked down and accounted for
  As a reviewer of the deployment
  I want the Terraform configuration held to its rules before anything is applied
  So that no change opens the API to the internet or leaves a resource nobody can find

  Background:
    Given the Terraform configuration of the deployment

  Scenario: Only the API port is open, and only to the allowed addresses
    Then inbound traffic is allowed on TCP port 5000 only
    And inbound traffic comes only from the allowed addresses variable
    And no inbound rule is open to the whole internet
    And no outbound rule allows every protocol
    And every security group rule says what it is for

  Scenario Outline: The allowed addresses are validated before any apply
    When the allowed addresses are set to <cidrs>
    Then Terraform <verdict> them

    Examples: Refused
      | cidrs                 | verdict |
      | ["0.0.0.0/0"]         | refuses |
      | ["::/0"]              | refuses |
      | ["10.0.0.0/0"]        | refuses |
      | ["not-a-cidr"]        | refuses |
      | ["203.0.113.7/24"]    | refuses |
      | ["2001:db8::1/64"]    | refuses |
      | []                    | refuses |

    Examples: Accepted
      | cidrs                               | verdict |
      | ["203.0.113.7/32"]                  | accepts |
      | ["203.0.113.7/32", "2001:db8::/64"] | accepts |
      | ["2001:DB8::/64"]                   | accepts |

  Scenario: The instance is hardened
    Then the instance requires IMDSv2 session tokens
    And the instance's root volume is encrypted
    And the instance's root volume is deleted with it

  Scenario: Every resource the apply creates carries the run's tags
    Then the provider tags every resource with Project, RunId and ManagedBy from variables
    And every taggable resource has a Name tag
    And the primary network interface, which the provider's tags miss, carries the run's tags

  Scenario: The first boot needs nothing the instance lacks and no rate-limited registry
    Then the user data installs docker, tar and gzip before it uses them
    And the image is built on the Dockerfile's base image from Amazon's public ECR mirror

  Scenario: The instance terminates itself when its time to live runs out
    Then powering off the instance terminates it
    And the user data arms the dead man's switch before any step that can fail

  Scenario: The outputs say where the API is and never reveal its key
    Then the outputs api_url, instance_id, public_ip and security_group_id exist
    And every output says what it is
    And no output reveals the API key

  Scenario: Every variable is typed, described and in order, and the key is sensitive
    Then every variable has a type and a description
    And the API key variable is sensitive
    And variables and outputs are declared in alphabetical order
