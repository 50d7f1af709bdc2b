Feature: Errors
  As a client of the service
  I want every refusal to say why, in one shape, without repeating what I sent
  So that one piece of code handles every error, and nothing I send is shown back

  Scenario Outline: Asking for what the service does not offer is answered with an error of the one shape
    Given the service is running
    When a client <request>
    Then the answer is <code>
    And the answer is JSON
    And the error says why
    And the error does not repeat what was sent

    Examples: Nothing there
      | request                                   | code |
      | reads a page the service does not have    | 404  |

    Examples: Not done there
      | request                                   | code |
      | deletes the log                           | 405  |
      | sends an update to the status             | 405  |
