Feature: API key
  As the operator of the service
  I want only clients holding the API key to change the state
  So that anyone may read it but nobody else may write it

  Background:
    Given the service is running
    And the service requires an API key

  Scenario: An update with the key is accepted
    Given the state is counter 1 and message "keyed"
    When the client sets the counter to 2
    Then the answer is 200
    And the answer does not contain the key
    And the status shows counter 2 and message "keyed"
    And the log's newest entry is the update as answered
    And the update was logged once

  Scenario Outline: An update without the right key is refused and changes nothing
    Given the state is counter 3 and message "guarded"
    When a client sends an update <credentials>
    Then the answer is 401
    And the answer is JSON
    And the error says why
    And the error does not repeat what was sent
    And the answer does not contain the key
    And nothing changed

    Examples: No key
      | credentials                              |
      | without a key                            |
      | with an empty key                        |

    Examples: A key that is not the key
      | credentials                              |
      | with a wrong key                         |
      | with the key in another case             |
      | with the key less its last character     |
      | with the key and one more character      |

    Examples: The key in the wrong place
      | credentials                              |
      | with the key in the query string         |
      | with the key as a bearer token           |
      | with the key in the body                 |
      | with the key in a cookie                 |

  Scenario: A refused update does not reveal whether its body was valid
    Given the state is counter 3 and message "guarded"
    When a client without a key sends the update {"counter": "not a number"}
    Then the answer is 401
    And the error says why
    And the error does not repeat what was sent
    And nothing changed

  Scenario Outline: Reading needs no key
    When a client without a key reads <what>
    Then the answer is 200
    And it reads <what> as a client holding the key does

    Examples:
      | what           |
      | the status     |
      | the log        |
      | the health     |
